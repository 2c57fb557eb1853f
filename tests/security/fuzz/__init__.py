"""The fuzz of every mutation's input (tests/security/test_fuzz.py describes it): the world its examples
share (`world.py`), hostile and plausible values (`values.py`), inputs built from the GraphQL input types
(`inputs.py`), each mutation's plan and the regression seeds (`plans.py`), and sending and judging one
request (`exchange.py`).
"""
