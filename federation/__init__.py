"""The federation service: signed, data-minimised household-status queries between cities.

Wire protocol: `federation/PROTOCOL.md`. Layers: `domain` (aggregates and pure rules), `signing`
(RFC 9421 on top of http-message-signatures), `peers` and `linkage` (who we talk to and how subjects
are named), `application`/`handlers`/`outbound`/`api` (use cases, inbox, peer client, HTTP).
"""
