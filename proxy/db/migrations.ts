/**
 * Numbered schema migrations, applied in order by `user_version`.
 * Append only: never edit a migration that has shipped.
 * Money is integer micro-dollars (1 USD = 1_000_000); times are ms since epoch.
 */
export const MIGRATIONS: readonly string[] = [
  /* 1: the core schema */ `
  CREATE TABLE tokens (
    id              TEXT PRIMARY KEY,             -- public id, tok_…
    name            TEXT NOT NULL,
    parent_id       TEXT REFERENCES tokens(id),
    depth           INTEGER NOT NULL DEFAULT 0,
    scopes          TEXT NOT NULL,                -- space-separated, canonical order
    monthly_budget  INTEGER,                      -- micro-dollars; NULL = no budget of its own
    rpm             INTEGER,                      -- requests per minute; NULL = unlimited
    max_concurrent  INTEGER,                      -- in-flight requests; NULL = unlimited
    expires_at      INTEGER,                      -- NULL = never
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER,
    revoked_reason  TEXT,
    upstream_key_id TEXT,                         -- set when the token is a real upstream child key
    meta            TEXT NOT NULL DEFAULT '{}'    -- JSON: env sink path, auto-rotation, webhook settings
  ) STRICT;
  CREATE INDEX tokens_parent ON tokens(parent_id);

  CREATE TABLE token_secrets (
    hash        TEXT PRIMARY KEY,                 -- SHA-256 hex of the secret; the secret itself is never stored
    token_id    TEXT NOT NULL REFERENCES tokens(id),
    created_at  INTEGER NOT NULL,
    superseded_at INTEGER,                        -- NULL for the newest secret
    grace_until INTEGER                           -- an older secret works for ordinary calls until then
  ) STRICT;
  CREATE INDEX token_secrets_token ON token_secrets(token_id);

  CREATE TABLE usage (
    id                INTEGER PRIMARY KEY,
    ts                INTEGER NOT NULL,
    request_id        TEXT NOT NULL,
    token_id          TEXT NOT NULL,
    method            TEXT NOT NULL,
    route             TEXT NOT NULL,
    model             TEXT,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_micros       INTEGER NOT NULL DEFAULT 0,
    status            INTEGER NOT NULL,
    latency_ms        REAL NOT NULL,
    streamed          INTEGER NOT NULL DEFAULT 0,
    usage_source      TEXT NOT NULL DEFAULT 'none', -- upstream | counted | none
    cost_source       TEXT NOT NULL DEFAULT 'none', -- upstream | price | default | none
    error_code        TEXT
  ) STRICT;
  CREATE INDEX usage_token_ts ON usage(token_id, ts);
  CREATE INDEX usage_ts ON usage(ts);

  CREATE TABLE spend (
    token_id     TEXT NOT NULL,
    period       TEXT NOT NULL,                   -- YYYY-MM (UTC)
    spent_micros INTEGER NOT NULL,
    requests     INTEGER NOT NULL,
    PRIMARY KEY (token_id, period)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE models (
    id                TEXT PRIMARY KEY,
    prompt_price      REAL,                       -- USD per 1M tokens, from upstream
    completion_price  REAL,
    override_prompt   REAL,                       -- local overrides win
    override_completion REAL,
    raw               TEXT,                       -- the upstream entry as JSON
    synced_at         INTEGER
  ) STRICT;

  CREATE TABLE audit (
    id        INTEGER PRIMARY KEY,
    ts        INTEGER NOT NULL,
    actor     TEXT NOT NULL,                      -- cli | admin | daemon | tok_…
    event     TEXT NOT NULL,
    token_id  TEXT,
    detail    TEXT NOT NULL DEFAULT '{}'
  ) STRICT;
  CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
  CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;

  CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL                           -- JSON
  ) STRICT;

  CREATE TABLE events (
    id        INTEGER PRIMARY KEY,
    ts        INTEGER NOT NULL,
    kind      TEXT NOT NULL,                      -- budget_80 | budget_100 | upstream_credits_out | …
    token_id  TEXT,
    period    TEXT,
    detail    TEXT NOT NULL DEFAULT '{}',
    UNIQUE (kind, token_id, period)
  ) STRICT;
  `,
  /* 2: real SkillBoss child keys provisioned for agents off this machine (issue 4); their secrets are never stored */ `
  CREATE TABLE upstream_children (
    id              TEXT PRIMARY KEY,             -- the upstream key id, as SkillBoss names it
    name            TEXT NOT NULL,
    scopes          TEXT NOT NULL,                -- space-separated, canonical order
    monthly_budget  INTEGER,                      -- micro-dollars
    expires_at      INTEGER,
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER,
    revoked_reason  TEXT
  ) STRICT;
  `,
  /* 3: access requests from agents without a token (issue 9). No secret is stored: the poll secret only as
        its hash, and the token is minted at the agent's first poll after approval and shown once. */ `
  CREATE TABLE access_requests (
    id               TEXT PRIMARY KEY,            -- areq_…: public, shown to the human and in the audit log
    poll_hash        TEXT NOT NULL,               -- SHA-256 hex of the poll secret, which only the agent holds
    user_code        TEXT NOT NULL,               -- e.g. WDJB-MJHT, for the human to compare with the agent's
    name             TEXT NOT NULL,
    reason           TEXT,
    scopes           TEXT NOT NULL,               -- requested; space-separated, canonical order
    monthly_budget   INTEGER NOT NULL,            -- requested; micro-dollars
    expiration_days  INTEGER NOT NULL,            -- requested
    status           TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'delivered', 'denied', 'expired')),
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,            -- deadline to answer (pending) or to collect the token (approved)
    decided_at       INTEGER,
    decided_by       TEXT,                        -- cli | admin
    approved_scopes  TEXT,                        -- what the human granted: never more than requested
    approved_budget  INTEGER,
    approved_expiration_days INTEGER,
    deny_reason      TEXT,
    answered_at      INTEGER,                     -- when the agent collected the outcome (its token, or the denial)
    token_id         TEXT REFERENCES tokens(id)   -- the token minted at that moment
  ) STRICT;
  CREATE INDEX access_requests_open ON access_requests(status, expires_at);
  CREATE INDEX access_requests_created ON access_requests(created_at);
  `,
  /* 4: budgets that fit how people pay, holds for a human's approval, and every token class in the ledger (issue 16) */ `
  ALTER TABLE tokens ADD COLUMN budget_period TEXT NOT NULL DEFAULT 'month'
    CHECK (budget_period IN ('day', 'week', 'month', 'total'));  -- what monthly_budget is per; total = prepaid, never resets
  ALTER TABLE tokens ADD COLUMN hold_above INTEGER;              -- micro-dollars per budget period; NULL = no hold
  ALTER TABLE tokens ADD COLUMN hold_rate INTEGER;               -- micro-dollars per rolling hour; NULL = no hold
  ALTER TABLE tokens ADD COLUMN hold_state TEXT
    CHECK (hold_state IN ('held', 'denied'));                    -- NULL = not held
  ALTER TABLE tokens ADD COLUMN held_at INTEGER;                 -- when the current hold began
  ALTER TABLE tokens ADD COLUMN held_reason TEXT;                -- what tripped it, for the human
  ALTER TABLE tokens ADD COLUMN hold_version INTEGER NOT NULL DEFAULT 0; -- +1 at every trip, approval, denial or threshold change
  ALTER TABLE tokens ADD COLUMN hold_waived_period TEXT;         -- an approval without a new threshold waives hold_above for this period key
  ALTER TABLE tokens ADD COLUMN topped_up INTEGER NOT NULL DEFAULT 0; -- micro-dollars added to a total budget by top-ups (already in monthly_budget)

  CREATE TABLE holds (
    id            INTEGER PRIMARY KEY,
    token_id      TEXT NOT NULL REFERENCES tokens(id),
    held_at       INTEGER NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('above', 'rate')),
    reason        TEXT NOT NULL,
    spent_micros  INTEGER NOT NULL,                 -- settled + in flight when it tripped
    threshold_micros INTEGER NOT NULL,
    decision      TEXT CHECK (decision IN ('approved', 'denied')),
    decided_at    INTEGER,
    decided_by    TEXT,
    new_hold_above INTEGER
  ) STRICT;
  CREATE INDEX holds_token ON holds(token_id, held_at);

  ALTER TABLE usage ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0;      -- part of prompt_tokens read from the upstream's cache
  ALTER TABLE usage ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0; -- part of prompt_tokens written to it
  ALTER TABLE usage ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0;   -- part of completion_tokens spent reasoning

  ALTER TABLE models ADD COLUMN cached_price REAL;       -- USD per 1M tokens, from upstream; NULL = fall back (see prices.ts)
  ALTER TABLE models ADD COLUMN cache_write_price REAL;
  ALTER TABLE models ADD COLUMN reasoning_price REAL;
  ALTER TABLE models ADD COLUMN override_cached REAL;
  ALTER TABLE models ADD COLUMN override_cache_write REAL;
  ALTER TABLE models ADD COLUMN override_reasoning REAL;
  `,
  /* 5: the message an agent got with a refusal, for the dashboard's request drawer (issue 19) */ `
  ALTER TABLE usage ADD COLUMN error_message TEXT;              -- NULL for answered requests and rows from before this migration
  `,
  /* 6: upstream: where each synced price came from, per-call prices, the detail cache, and sub-wallets beside child keys (issue 23) */ `
  ALTER TABLE models ADD COLUMN price_source TEXT;        -- 'models list' | 'model detail'; NULL = no synced price
  ALTER TABLE models ADD COLUMN request_price REAL;       -- USD per call, where SkillBoss lists one (per_request_usd)
  ALTER TABLE models ADD COLUMN detail_synced_at INTEGER; -- when GET /v1/models/{id} last answered; the sync's cache
  ALTER TABLE upstream_children ADD COLUMN kind TEXT NOT NULL DEFAULT 'child-key'
    CHECK (kind IN ('child-key', 'sub-wallet'));          -- which upstream primitive holds it
  `,
  /* 7: services: SkillBoss /v1/run jobs (202, polled at /v1/job/{id}) and Idempotency-Key claims (issue 24) */ `
  CREATE TABLE service_jobs (
    job_id           TEXT PRIMARY KEY,           -- SkillBoss's job id
    token_id         TEXT NOT NULL,              -- the token that started it: the only one that may poll it
    request_id       TEXT NOT NULL,              -- the /v1/run request that started it (its ledger row, charged 0)
    model            TEXT,
    reserved_micros  INTEGER NOT NULL,           -- held against the budgets until the job settles
    price_source     TEXT NOT NULL CHECK (price_source IN ('price', 'default')), -- the reservation's price: synced, or the fallback (flagged)
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'completed', 'failed', 'timed_out')),
    created_at       INTEGER NOT NULL,
    settled_at       INTEGER,
    settled_request_id TEXT,                     -- the ledger row that charged it (a poll's, or the timeout's)
    cost_micros      INTEGER                     -- what was charged
  ) STRICT;
  CREATE INDEX service_jobs_pending ON service_jobs(status, created_at);
  CREATE TABLE run_idempotency (
    token_id    TEXT NOT NULL,
    key_hash    TEXT NOT NULL,                   -- sha256 of the agent's Idempotency-Key (never the key itself)
    request_id  TEXT NOT NULL,                   -- the first request with it: the one charged
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (token_id, key_hash)
  ) STRICT;
  `,
  /* 8: svcui: a ledger row finds the job it started or settled (usage --json job_id, the request drawer's job status) */ `
  CREATE INDEX service_jobs_request ON service_jobs(request_id);
  CREATE INDEX service_jobs_settled ON service_jobs(settled_request_id);
  `,
  /* 9: allow: tokens.models, a per-token model allowlist (issue 24, item 3) */ `
  ALTER TABLE tokens ADD COLUMN models TEXT;             -- JSON array of patterns (wire/allowlist.ts); NULL = every model
  ALTER TABLE upstream_children ADD COLUMN models TEXT;  -- the same, as the upstream child was made with (NULL = none)
  ALTER TABLE access_requests ADD COLUMN models TEXT;    -- what the agent asked for (NULL = every model)
  ALTER TABLE access_requests ADD COLUMN approved_models TEXT; -- what the human granted (NULL = every model, or not approved yet)
  `,
  /* 10: sec3: Responses this sidecar relayed, so a later previous_response_id is counted in its prompt bound (issue 25) */ `
  CREATE TABLE relayed_responses (
    response_id   TEXT PRIMARY KEY,               -- the upstream's response id (resp_…)
    token_id      TEXT NOT NULL,
    ts            INTEGER NOT NULL,
    tokens        INTEGER NOT NULL                -- its input + output tokens: what a response continuing it carries as input
  ) STRICT;
  CREATE INDEX relayed_responses_ts ON relayed_responses(ts);
  `,
  /* 11: a poll's ledger row names its job too (usage --json job_id on every row of a job, not only its start and end) */ `
  ALTER TABLE usage ADD COLUMN job_id TEXT;
  `,
];
