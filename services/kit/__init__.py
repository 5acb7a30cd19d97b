"""What every service is built from: settings, event store, outbox relay, inbox, tracing, HTTP app.

A service declares its domain, its eventsourcing Application and its handlers; the kit supplies the
plumbing that must behave identically everywhere (exactly-once effects, dead letters, traces, health),
so that a fix to the plumbing is made once.
"""
