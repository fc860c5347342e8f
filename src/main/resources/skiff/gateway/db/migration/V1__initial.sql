-- The gateway's state. Portable SQL: the same file migrates SQLite and PostgreSQL.
-- Times are milliseconds since the epoch (BIGINT), so both databases compare them alike.

-- One row per published file: the platform manifest's digest names it.
CREATE TABLE images (
    digest         VARCHAR(100) PRIMARY KEY,
    platform       VARCHAR(64)  NOT NULL,
    size_bytes     BIGINT       NOT NULL,
    owner          VARCHAR(64)  NOT NULL,
    created_ms     BIGINT       NOT NULL,
    last_used_ms   BIGINT       NOT NULL,
    status         VARCHAR(16)  NOT NULL,
    allowed_users  VARCHAR(4000) NOT NULL DEFAULT '',
    allowed_groups VARCHAR(4000) NOT NULL DEFAULT ''
);

-- Names (normalised references) and what they resolved to: tags move, digests do not.
CREATE TABLE names (
    name        VARCHAR(512) NOT NULL,
    platform    VARCHAR(64)  NOT NULL,
    digest      VARCHAR(100) NOT NULL,
    repo_digest VARCHAR(100),
    resolved_ms BIGINT       NOT NULL,
    PRIMARY KEY (name, platform)
);
CREATE INDEX names_digest ON names (digest);

-- Pull requests and their lifecycle (PENDING, PULLING, CONVERTING, PUBLISHING, READY, FAILED).
CREATE TABLE requests (
    id          VARCHAR(40)  PRIMARY KEY,
    reference   VARCHAR(512) NOT NULL,
    platform    VARCHAR(64)  NOT NULL,
    owner       VARCHAR(64)  NOT NULL,
    state       VARCHAR(16)  NOT NULL,
    digest      VARCHAR(100),
    reason_code VARCHAR(40),
    reason      VARCHAR(4000),
    created_ms  BIGINT       NOT NULL,
    updated_ms  BIGINT       NOT NULL,
    bytes_done  BIGINT       NOT NULL DEFAULT 0,
    bytes_total BIGINT       NOT NULL DEFAULT 0,
    log         TEXT         NOT NULL
);
CREATE INDEX requests_state ON requests (state);
