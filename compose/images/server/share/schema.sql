-- The hosting database, created at first boot by machine-init
-- (psql as postgres, connected to database "hosting").
SET ROLE app;

CREATE TABLE IF NOT EXISTS pages (
    id          text PRIMARY KEY,
    title       text NOT NULL,
    body        text NOT NULL,
    sha256      text NOT NULL,
    size        bigint NOT NULL,
    path        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS uploads (
    id          text PRIMARY KEY,
    sha256      text NOT NULL,
    size        bigint NOT NULL,
    path        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO pages (id, title, body, sha256, size, path)
SELECT n::text,
       'Page ' || n,
       body,
       encode(sha256(convert_to(body, 'UTF8')), 'hex'),
       octet_length(body),
       '/page/' || n
FROM (
    SELECT n, format('This is page %s of the example site, rendered from PostgreSQL. %s',
                     n, repeat('Lorem ipsum dolor sit amet. ', 8)) AS body
    FROM generate_series(1, 20) AS n
) AS seed
ON CONFLICT (id) DO NOTHING;
