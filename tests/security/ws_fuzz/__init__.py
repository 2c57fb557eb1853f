"""The fuzz of both WebSocket protocols (tests/security/test_ws_fuzz.py describes it): frames and the
documents they carry (`frames.py`), conversations drawn by hypothesis (`strategies.py`), the model of each
protocol that says how the server must answer (`protocol_model.py`), and talking to the server and judging
its answers (`exchange.py`).
"""
