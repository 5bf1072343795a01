"""The collection server (install with `pip install 'sempervirens[server]'`).

`sempervirens.server.app.create_app` builds the ASGI application.  Nothing is
imported here, so that the command line, which lists `serve` among the client's
own commands, works without the server's dependencies.
"""
