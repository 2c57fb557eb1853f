"""Making and revoking scoped API tokens through the API: shared by the token tests and the revocation tests."""

from tests.api import Api

CREATE = """mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) {
  __typename ... on UserError { code message } ... on InvalidInput { field }
  ... on CreateApiTokenSuccess { token apiToken { id name scopes revokedAt } } } }"""
REVOKE = """mutation($id: ID!) { revokeApiToken(input: {id: $id}) {
  __typename ... on UserError { code message } ... on RevokeApiTokenSuccess { apiToken { name revokedAt } } } }"""


async def make_token(api: Api, owner: str, *scopes: str, name: str = "third party") -> tuple[str, str]:
    """A token of `owner`'s with `scopes`, made through the API: (its global id, its secret)."""
    created = (await api.data(CREATE, {"input": {"name": name, "scopes": list(scopes)}}, owner))["createApiToken"]
    assert created["__typename"] == "CreateApiTokenSuccess", created
    assert created["apiToken"]["scopes"] == list(scopes)
    return created["apiToken"]["id"], created["token"]
