-- Garbage collection (issue 9, ADR-0011): manifest_references, referenced_seq per manifest, link and blob;
-- their values come from replaying the log, so the views are rebuilt once at start-up (maintenance).
CREATE TABLE "maintenance" (
	"task" text PRIMARY KEY NOT NULL
);
--> statement-breakpoint
CREATE TABLE "manifest_references" (
	"repository" text NOT NULL,
	"digest" text NOT NULL,
	"kind" text NOT NULL,
	"target" text NOT NULL,
	CONSTRAINT "manifest_references_repository_digest_kind_target_pk" PRIMARY KEY("repository","digest","kind","target")
);
--> statement-breakpoint
ALTER TABLE "blobs" ADD COLUMN "referenced_seq" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "manifests" ADD COLUMN "referenced_seq" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "manifests" ADD COLUMN "references_recorded" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "repository_blobs" ADD COLUMN "referenced_seq" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "manifest_references_target_idx" ON "manifest_references" USING btree ("kind","target","repository");--> statement-breakpoint
INSERT INTO "maintenance" ("task") VALUES ('rebuild-views') ON CONFLICT DO NOTHING;