"""What the app serves to browsers besides the API: GraphiQL (graph/graphiql) and the lender web app (graph/webapp).

Both pages load files from this origin only, under one strict Content-Security-Policy (serving.py).
Third-party files are vendored with a pinned version and checked by their sha384 (lock.py, vendor.py).
"""
