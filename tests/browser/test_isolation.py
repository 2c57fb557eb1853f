"""What the `page` fixture guards: a request or WebSocket to any other host is aborted and recorded, and
the page's console errors are recorded, so the browser tests' `== []` checks can fail."""

from playwright.sync_api import Page

FETCH = """async (url) => {
  try { await fetch(url); return "loaded"; } catch (error) { return "refused"; }
}"""
SOCKET = """(url) => new Promise((resolve) => {
  const socket = new WebSocket(url);
  socket.onopen = () => resolve("open");
  socket.onclose = () => resolve("closed");
})"""


def test_requests_to_other_hosts_are_aborted_and_recorded(page: Page, outside_requests: list[str]):
    page.goto("/health")
    assert page.evaluate(FETCH, "/health") == "loaded"
    assert outside_requests == []

    assert page.evaluate(FETCH, "https://cdn.example.org/react.js") == "refused"
    assert page.evaluate(SOCKET, "wss://example.org/graphql") == "closed"
    assert outside_requests == ["https://cdn.example.org/react.js", "wss://example.org/graphql"]


def test_console_errors_and_uncaught_exceptions_are_recorded(page: Page, console_errors: list[str]):
    page.goto("/health")
    page.evaluate("console.error('a failed load')")
    with page.expect_event("pageerror"):
        page.evaluate("setTimeout(() => { throw new Error('not caught'); })")

    assert any("a failed load" in error for error in console_errors), console_errors
    assert any(error.startswith("uncaught:") and "not caught" in error for error in console_errors), console_errors
