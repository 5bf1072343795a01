"""Files served as they are (dataset files and /static), with Range requests as RFC 9110
(14.2) has them: a Range header the server does not understand (another unit, a range
that is not one, `bytes=5-2`) is ignored and the whole file sent.  Starlette answered
it with a 400 in plain text, the only error of the site that was not the JSON one.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import FileResponse, MalformedRangeHeader
from starlette.staticfiles import NotModifiedResponse, StaticFiles


class Download(FileResponse):
    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        try:
            return super()._parse_range_header(http_range, file_size)
        except MalformedRangeHeader:
            return []  # no range: the whole file


class Static(StaticFiles):
    def file_response(self, full_path, stat_result, scope, status_code: int = 200):
        response = Download(full_path, status_code=status_code, stat_result=stat_result)
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response
