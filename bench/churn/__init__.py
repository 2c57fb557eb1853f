"""The churn soak: memory of one `lendgraph serve` process under many short-lived WebSocket clients (issue 12)."""
