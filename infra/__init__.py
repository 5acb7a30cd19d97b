"""Everything needed to run the platform that is not the platform: the local-stack launcher
(`python -m infra.stack`, what `make run` starts), the demo, nats-server configs, the Procfile of the
local stack, and the compose file, Dockerfile and collector config for running it beyond one machine.
"""
