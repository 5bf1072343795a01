"""`sempervirens simulate`: a realistic population of installations, for the demo and tests.

Today's traffic goes through the real client library over HTTP to a running
server (_client.py); earlier days, which a server would stamp with today's date,
are written back-dated through the store's own writer (history.py).  See run.py.
"""
