"""Reports (issue 20, custody-price-reports.md §4): report runs, the reports a run produced and
their files.

Revision ID: 0100_reports

- ``report_runs``: one row per run (events in ``events``, ``entity_type = 'report_run'``).
  ``state`` QUEUED → RUNNING → SUCCESS | FAILED; ``run_type`` MANUAL | SCHEDULED;
  ``definition_id`` is null for a scheduled run of the whole catalogue; ``as_of_date`` only for a
  definition that takes one; ``error`` keeps a failure's text. ``run_key`` is the business identity
  (``manual:<idempotency key>`` / ``scheduled:<date>``) and is unique, so a retried trigger or a
  repeated schedule tick makes one run.
- ``reports``: one row per (run, definition) produced; ``external_id`` = ``<run id>_<norm>_<name>``
  (unique).
- ``report_files``: one file per (report, extension), its storage path and size. A path is
  written once: a rerun of the same definition and date writes under its own run id and replaces
  nothing already published.

A new branch of its own (``upgrade heads`` applies every branch).
"""

from migrations.sql import run_script

revision = "0100_reports"
down_revision = "0080_credit_liquidations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        CREATE TABLE report_runs (
            id             UUID PRIMARY KEY,
            run_key        VARCHAR(200) NOT NULL UNIQUE,
            state          VARCHAR(16)  NOT NULL,
            run_type       VARCHAR(16)  NOT NULL,
            definition_id  VARCHAR(100),
            as_of_date     DATE,
            error          TEXT,
            requested_by   VARCHAR(128) NOT NULL,
            start_time     TIMESTAMPTZ,
            finished_at    TIMESTAMPTZ,
            version        BIGINT       NOT NULL,
            created_at     TIMESTAMPTZ  NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_report_runs_created ON report_runs (created_at, id);

        CREATE TABLE reports (
            id             UUID PRIMARY KEY,
            run_id         UUID         NOT NULL REFERENCES report_runs (id),
            external_id    VARCHAR(300) NOT NULL UNIQUE,
            definition_id  VARCHAR(100) NOT NULL,
            norm           VARCHAR(50)  NOT NULL,
            name           VARCHAR(100) NOT NULL,
            friendly_name  VARCHAR(200) NOT NULL,
            row_count      BIGINT,
            created_at     TIMESTAMPTZ  NOT NULL DEFAULT now(),
            UNIQUE (run_id, definition_id)
        );

        CREATE TABLE report_files (
            report_id      UUID         NOT NULL REFERENCES reports (id),
            extension      VARCHAR(8)   NOT NULL,
            path_in_bucket VARCHAR(500) NOT NULL UNIQUE,
            content_type   VARCHAR(100) NOT NULL,
            size_bytes     BIGINT       NOT NULL,
            created_at     TIMESTAMPTZ  NOT NULL DEFAULT now(),
            PRIMARY KEY (report_id, extension)
        );
        """
    )


def downgrade() -> None:
    run_script("DROP TABLE report_files; DROP TABLE reports; DROP TABLE report_runs;")
