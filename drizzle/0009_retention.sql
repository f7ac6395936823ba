-- Retention policies (issue 9): a view of retention.policy-set / retention.policy-removed, evaluated by GC.
CREATE TABLE "retention_policies" (
	"name" text PRIMARY KEY NOT NULL,
	"repositories" jsonb NOT NULL,
	"keep_last" integer,
	"keep_tags" jsonb NOT NULL,
	"untagged_after_ms" bigint,
	"set_seq" bigint NOT NULL
);
