"""The GraphQL surface: types, schema, Starlette app, context, auth and the command line."""
