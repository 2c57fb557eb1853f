-- lendgraph_lend: one `lend` on PostgreSQL in one statement, sent outside any transaction.
--
-- lending/funding.py calls it, and keeps the same rules in Python for SQLite: the two must
-- answer identically (the API tests run on both databases). `lendgraph migrate`
-- (lending.ledger.prepare_database) installs it after the migrations, with CREATE OR REPLACE,
-- so the database always runs the function of the code it serves. Changing its parameters or
-- its result type needs a DROP FUNCTION first (CREATE OR REPLACE cannot change them).
--
-- In this order:
--  1. the idempotency key (actor, key): a stored result answers a replay of the same request,
--     whatever has happened since; another request under that key is a conflict;
--  2. refusals from plain reads, in the Python path's order: the loan is missing, not
--     fundraising, past its deadline, or has less room than asked; then the lender's credit;
--  3. the conditional UPDATE of the loan (the only contended lock, taken as late as possible);
--     a lend that finds no room there writes nothing and says why from a fresh read;
--  4. the lender's share (new, or grown) and then the key with its result;
--  5. the accounts, all at once in id order, then the money: lender to loan, and on filling
--     the loan, loan to partner; the lender's last_lent_at;
--  6. the outbox events, as lending/outbox.py writes them;
--  7. the rows the answer shows (loan, share, lender) as JSON and the lender's credit, so the API
--     reads nothing again.
--
-- Answers: {"outcome": "lent" | "replayed", "result": {...}, "loan", "share", "lender",
-- "balance_cents"},
-- {"outcome": "conflict"}, or {"outcome": "refused", "refusal": <lending.errors name>, ...}.
-- Raised (everything rolled back): SQLSTATE LG001 when a concurrent duplicate of this request
-- stored the key after step 1 read it (call again: step 1 then answers); LG002 when the credit
-- was spent between step 2 and the lock of step 5 (DETAIL: the balance then available).
--
-- The lock order (lending/ledger.py): the loan row, the share (reached only through the loan),
-- the key, the accounts, the lender's row. No event lock: inserting an event is all a writer of
-- the outbox does.

CREATE OR REPLACE FUNCTION lendgraph_lend(
    p_actor text,
    p_key text,
    p_fingerprint text,
    p_lender_id integer,
    p_loan_id integer,
    p_cents bigint,
    p_now timestamptz
) RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
    stored idempotency_key%ROWTYPE;
    lent loan%ROWTYPE;
    held share%ROWTYPE;
    lender_row lender%ROWTYPE;
    refusal jsonb;
    available bigint;
    fills boolean;
    account_row record;
    lender_account integer;
    loan_account integer;
    partner_account integer;
BEGIN
    -- 1. A request seen before answers as it did (or as a conflict), before any other check.
    SELECT * INTO stored FROM idempotency_key WHERE actor = p_actor AND key = p_key;
    IF FOUND THEN
        IF stored.operation <> 'lend' OR stored.fingerprint <> p_fingerprint THEN
            RETURN jsonb_build_object('outcome', 'conflict');
        END IF;
        RETURN jsonb_build_object(
            'outcome', 'replayed',
            'result', stored.result,
            'loan', (SELECT to_jsonb(l) FROM loan l WHERE l.id = (stored.result ->> 'loan_id')::integer),
            'share', (SELECT to_jsonb(s) FROM share s WHERE s.id = (stored.result ->> 'share_id')::integer),
            'lender', (SELECT to_jsonb(r) FROM lender r WHERE r.id = p_lender_id),
            'balance_cents', (SELECT balance_cents FROM account WHERE lender_id = p_lender_id)
        );
    END IF;

    -- 2 and 3. The first pass refuses from reads, then takes the loan row; a lend that loses the
    -- row's room to a concurrent one makes a second pass, which says why from a fresh read.
    FOR pass IN 1..2 LOOP
        SELECT * INTO lent FROM loan WHERE id = p_loan_id;
        refusal := CASE
            WHEN lent.id IS NULL THEN
                jsonb_build_object('refusal', 'NotFound')
            WHEN lent.status <> 'FUNDRAISING' THEN
                jsonb_build_object('refusal', 'LoanNotFundraising', 'status', lent.status)
            WHEN lent.expires_at <= p_now THEN
                jsonb_build_object('refusal', 'LoanNotFundraising', 'status', 'past its deadline')
            WHEN p_cents > lent.amount_cents - lent.funded_cents OR pass = 2 THEN
                jsonb_build_object('refusal', 'ExceedsRemaining', 'remaining', lent.amount_cents - lent.funded_cents)
        END;
        IF refusal IS NULL THEN
            SELECT balance_cents INTO available FROM account WHERE lender_id = p_lender_id;
            IF available < p_cents THEN
                refusal := jsonb_build_object('refusal', 'InsufficientCredit', 'needed', p_cents, 'available', available);
            END IF;
        END IF;
        IF refusal IS NOT NULL THEN
            -- A duplicate of this request that committed since step 1 (filling the loan or spending
            -- the credit itself, maybe) answers for it. Each statement here sees what had committed
            -- when it began, so this read sees any duplicate the reads above saw the effects of.
            PERFORM 1 FROM idempotency_key WHERE actor = p_actor AND key = p_key;
            IF FOUND THEN
                RAISE EXCEPTION 'idempotency key stored by a concurrent request' USING ERRCODE = 'LG001';
            END IF;
            RETURN refusal || jsonb_build_object('outcome', 'refused');
        END IF;

        -- The contended lock. Concurrent lenders queue here; each re-checks the room once it
        -- has the row, so the loan is never overfunded. The lend that fills it makes it FUNDED.
        UPDATE loan SET
            funded_cents = funded_cents + p_cents,
            status = CASE WHEN funded_cents + p_cents = amount_cents THEN 'FUNDED' ELSE status END,
            funded_at = CASE WHEN funded_cents + p_cents = amount_cents THEN p_now ELSE funded_at END
        WHERE id = p_loan_id
            AND status = 'FUNDRAISING'
            AND expires_at > p_now
            AND funded_cents + p_cents <= amount_cents
        RETURNING * INTO lent;
        EXIT WHEN FOUND;
    END LOOP;
    fills := lent.status = 'FUNDED';

    -- 4. The share: a lender lending again to the same loan grows theirs.
    INSERT INTO share AS s (loan_id, lender_id, amount_cents, repaid_cents, loss_cents, created_at)
    VALUES (p_loan_id, p_lender_id, p_cents, 0, 0, p_now)
    ON CONFLICT (loan_id, lender_id) DO UPDATE SET amount_cents = s.amount_cents + EXCLUDED.amount_cents
    RETURNING * INTO held;
    IF held.amount_cents = p_cents THEN  -- a new share: a grown one holds more than this lend
        UPDATE loan SET lender_count = lender_count + 1 WHERE id = p_loan_id RETURNING * INTO lent;
    END IF;

    INSERT INTO idempotency_key (actor, key, operation, fingerprint, result, created_at)
    VALUES (
        p_actor, p_key, 'lend', p_fingerprint,
        jsonb_build_object('loan_id', p_loan_id, 'share_id', held.id), p_now
    )
    ON CONFLICT (actor, key) DO NOTHING;
    IF NOT FOUND THEN  -- a duplicate committed its key first: roll everything back, answer that
        RAISE EXCEPTION 'idempotency key stored by a concurrent request' USING ERRCODE = 'LG001';
    END IF;

    -- 5. Every account this lend touches, at once and in id order (the partner's when it fills).
    FOR account_row IN
        SELECT id, kind, balance_cents FROM account
        WHERE lender_id = p_lender_id OR loan_id = p_loan_id OR (fills AND partner_id = lent.partner_id)
        ORDER BY id
        FOR NO KEY UPDATE
    LOOP
        CASE account_row.kind
            WHEN 'LENDER' THEN lender_account := account_row.id; available := account_row.balance_cents;
            WHEN 'LOAN' THEN loan_account := account_row.id;
            WHEN 'PARTNER' THEN partner_account := account_row.id;
        END CASE;
    END LOOP;

    UPDATE account SET balance_cents = balance_cents - p_cents
    WHERE id = lender_account AND balance_cents >= p_cents;
    IF NOT FOUND THEN  -- spent since step 2 (a withdrawal, another lend)
        RAISE EXCEPTION 'insufficient credit' USING ERRCODE = 'LG002', DETAIL = available::text;
    END IF;
    -- The loan's account passes what it raised on to the partner when this lend fills it.
    UPDATE account SET balance_cents = balance_cents + p_cents - CASE WHEN fills THEN lent.amount_cents ELSE 0 END
    WHERE id = loan_account;
    INSERT INTO transfer (kind, source_id, destination_id, amount_cents, loan_id, created_at)
    VALUES ('LOAN_SHARE', lender_account, loan_account, p_cents, p_loan_id, p_now);
    IF fills THEN
        UPDATE account SET balance_cents = balance_cents + lent.amount_cents WHERE id = partner_account;
        INSERT INTO transfer (kind, source_id, destination_id, amount_cents, loan_id, created_at)
        VALUES ('DISBURSEMENT', loan_account, partner_account, lent.amount_cents, p_loan_id, p_now);
    END IF;

    -- Lending by hand restarts the clock of an AFTER_DAYS_WITHOUT_LENDING auto-lend rule.
    UPDATE lender SET last_lent_at = p_now WHERE id = p_lender_id RETURNING * INTO lender_row;

    -- 6. The outbox, as lending.outbox.progress and loan_and_lenders write it: the share's
    -- progress (the loan still FUNDRAISING in it, as the Python path reports it), then on filling
    -- LOAN_FUNDED on the loan's stream and on each lender's, in lender id order.
    INSERT INTO event (kind, loan_id, lender_id, payload, created_at)
    VALUES ('SHARE_ADDED', p_loan_id, NULL, jsonb_build_object(
        'amount_added', p_cents, 'amount', lent.amount_cents, 'funded', lent.funded_cents,
        'lender_count', lent.lender_count, 'status', 'FUNDRAISING'
    ), p_now);
    IF fills THEN
        INSERT INTO event (kind, loan_id, lender_id, payload, created_at)
        VALUES ('LOAN_FUNDED', p_loan_id, NULL, jsonb_build_object(
            'amount_added', 0, 'amount', lent.amount_cents, 'funded', lent.funded_cents,
            'lender_count', lent.lender_count, 'status', lent.status
        ), p_now);
        INSERT INTO event (kind, loan_id, lender_id, payload, created_at)
        SELECT 'LOAN_FUNDED', p_loan_id, lender_id, '{}'::jsonb, p_now
        FROM share WHERE loan_id = p_loan_id
        ORDER BY lender_id;
    END IF;

    -- 7. What the answer shows, as this lend left it.
    RETURN jsonb_build_object(
        'outcome', 'lent',
        'result', jsonb_build_object('loan_id', p_loan_id, 'share_id', held.id),
        'loan', to_jsonb(lent),
        'share', to_jsonb(held),
        'lender', to_jsonb(lender_row),
        'balance_cents', (SELECT balance_cents FROM account WHERE id = lender_account)
    );
END;
$$;
