-- lendgraph_move_credit: one `deposit` or `withdraw` on PostgreSQL in one statement, sent outside
-- any transaction.
--
-- lending/accounts.py calls it, and keeps the same rules in Python for SQLite (lending.idempotency
-- run_once and lending.ledger): the two must answer identically (the API tests run on both
-- databases). lending/pg_functions.py installs it, as it installs lend.sql.
--
-- In this order:
--  1. the idempotency key (actor, key): a stored result answers a replay of the same request,
--     whatever has happened since; another request under that key is a conflict;
--  2. a withdrawal beyond the credit read now is refused, writing nothing;
--  3. the key with its result (the id the transfer will have);
--  4. the lender's account and its world shard, at once and in id order, then the money: the
--     withdrawal's debit is conditional on the balance, checked again under the lock;
--  5. the transfer;
--  6. the rows the answer shows (the transfer, the lender, the lender's credit as this call leaves
--     it) and whether the lender has an enabled auto-lend rule, so that a deposit by a lender
--     without one reads nothing more.
--
-- Answers: {"outcome": "moved" | "replayed", "result": {"transfer_id"}, "transfer", "lender",
-- "account_id", "balance_cents", "auto_lends"}, {"outcome": "conflict"}, or {"outcome": "refused", "refusal":
-- "InsufficientCredit", "needed", "available"}.
-- Raised (everything rolled back): SQLSTATE LG001 when a concurrent duplicate of this request
-- stored the key after step 1 read it (call again: step 1 then answers); LG002 when the credit
-- was spent between step 2 and the lock of step 4 (DETAIL: the balance then available).
--
-- The lock order (lending/ledger.py): the key, then the two accounts in id order. The world
-- shard is the caller's (lending.ledger.world_account_for_lender), whose ids are cached.

CREATE OR REPLACE FUNCTION lendgraph_move_credit(
    p_actor text,
    p_key text,
    p_operation text,  -- 'deposit' (world to lender) or 'withdraw' (lender to world)
    p_fingerprint text,
    p_lender_id integer,
    p_world_id integer,
    p_cents bigint,
    p_now timestamptz
) RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
    stored idempotency_key%ROWTYPE;
    moved transfer%ROWTYPE;
    lender_account integer;
    available bigint;
    transfer_id bigint;
    locked integer;
BEGIN
    IF p_operation NOT IN ('deposit', 'withdraw') THEN
        RAISE EXCEPTION 'lendgraph_move_credit: unknown operation %', p_operation;
    END IF;

    -- 1. A request seen before answers as it did (or as a conflict), before any other check.
    SELECT * INTO stored FROM idempotency_key WHERE actor = p_actor AND key = p_key;
    IF FOUND THEN
        IF stored.operation <> p_operation OR stored.fingerprint <> p_fingerprint THEN
            RETURN jsonb_build_object('outcome', 'conflict');
        END IF;
        SELECT * INTO moved FROM transfer WHERE id = (stored.result ->> 'transfer_id')::bigint;
        RETURN jsonb_build_object(
            'outcome', 'replayed',
            'result', stored.result,
            'transfer', to_jsonb(moved),
            'lender', (SELECT to_jsonb(r) FROM lender r WHERE r.id = p_lender_id),
            'account_id', (SELECT id FROM account WHERE lender_id = p_lender_id),
            'balance_cents', (SELECT balance_cents FROM account WHERE lender_id = p_lender_id),
            'auto_lends', EXISTS (SELECT 1 FROM auto_lend_rule WHERE lender_id = p_lender_id AND enabled)
        );
    END IF;

    -- 2. A withdrawal the credit cannot cover writes nothing, not even its key.
    SELECT id, balance_cents INTO lender_account, available FROM account WHERE lender_id = p_lender_id;
    IF p_operation = 'withdraw' AND available < p_cents THEN
        -- A duplicate of this request that committed since step 1 (spending the credit itself)
        -- answers for it. This statement sees everything the read above saw.
        PERFORM 1 FROM idempotency_key WHERE actor = p_actor AND key = p_key;
        IF FOUND THEN
            RAISE EXCEPTION 'idempotency key stored by a concurrent request' USING ERRCODE = 'LG001';
        END IF;
        RETURN jsonb_build_object(
            'outcome', 'refused', 'refusal', 'InsufficientCredit', 'needed', p_cents, 'available', available
        );
    END IF;

    -- 3. The key, first lock of the transaction: a concurrent duplicate waits here for this one.
    transfer_id := nextval(pg_get_serial_sequence('transfer', 'id'));
    INSERT INTO idempotency_key (actor, key, operation, fingerprint, result, created_at)
    VALUES (p_actor, p_key, p_operation, p_fingerprint, jsonb_build_object('transfer_id', transfer_id), p_now)
    ON CONFLICT (actor, key) DO NOTHING;
    IF NOT FOUND THEN  -- a duplicate committed its key first: roll everything back, answer that
        RAISE EXCEPTION 'idempotency key stored by a concurrent request' USING ERRCODE = 'LG001';
    END IF;

    -- 4. Both accounts at once, in id order; then the money. Only world accounts may go negative.
    SELECT count(*) INTO locked FROM (
        SELECT id FROM account WHERE id IN (lender_account, p_world_id) ORDER BY id FOR NO KEY UPDATE
    ) AS held;
    IF locked <> 2 THEN
        RAISE EXCEPTION 'lendgraph_move_credit: lender % or world account % is missing', p_lender_id, p_world_id;
    END IF;
    IF p_operation = 'deposit' THEN
        UPDATE account SET balance_cents = balance_cents - p_cents WHERE id = p_world_id;
        UPDATE account SET balance_cents = balance_cents + p_cents WHERE id = lender_account;
    ELSE
        UPDATE account SET balance_cents = balance_cents - p_cents
        WHERE id = lender_account AND balance_cents >= p_cents;
        IF NOT FOUND THEN  -- spent since step 2 (another withdrawal, a lend)
            SELECT balance_cents INTO available FROM account WHERE id = lender_account;
            RAISE EXCEPTION 'insufficient credit' USING ERRCODE = 'LG002', DETAIL = available::text;
        END IF;
        UPDATE account SET balance_cents = balance_cents + p_cents WHERE id = p_world_id;
    END IF;

    -- 5. The transfer, under the id stored with the key.
    INSERT INTO transfer (id, kind, source_id, destination_id, amount_cents, loan_id, repayment_id, created_at)
    VALUES (
        transfer_id,
        CASE p_operation WHEN 'deposit' THEN 'DEPOSIT' ELSE 'WITHDRAWAL' END,
        CASE p_operation WHEN 'deposit' THEN p_world_id ELSE lender_account END,
        CASE p_operation WHEN 'deposit' THEN lender_account ELSE p_world_id END,
        p_cents, NULL, NULL, p_now
    )
    RETURNING * INTO moved;

    -- 6. What the answer shows.
    RETURN jsonb_build_object(
        'outcome', 'moved',
        'result', jsonb_build_object('transfer_id', transfer_id),
        'transfer', to_jsonb(moved),
        'lender', (SELECT to_jsonb(r) FROM lender r WHERE r.id = p_lender_id),
        'account_id', lender_account,
        'balance_cents', (SELECT balance_cents FROM account WHERE id = lender_account),
        'auto_lends', EXISTS (SELECT 1 FROM auto_lend_rule WHERE lender_id = p_lender_id AND enabled)
    );
END;
$$;
