"""The ceiling: the same server and framework, parsing the ping and storing nothing."""

import orjson
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route


async def submit(request):
    orjson.loads(await request.body())
    return Response(status_code=204)


app = Starlette(routes=[Route("/submit/{project}/{ping_type}/{version}/{document_id}", submit, methods=["POST"])])
