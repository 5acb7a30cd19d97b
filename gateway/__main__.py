"""`python -m gateway`: the operators' gateway on HTTP_PORT (8000 in the local stack)."""

from gateway.api import create_gateway
from gateway.settings import GatewaySettings
from services.kit.http import observe, serve

if __name__ == "__main__":
    settings = GatewaySettings()
    observe(settings)
    serve(create_gateway(settings), settings)
