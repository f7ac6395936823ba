-- The native namespace: packages (native columns on manifests), typed-metadata schemas, immutable
-- tags, repository-less (native) upload sessions, and indexes the event stream filters with.
CREATE TABLE "metadata_schemas" (
	"variant" text PRIMARY KEY NOT NULL,
	"schema" jsonb NOT NULL,
	"sha256" text NOT NULL,
	"registered_seq" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "uploads" ALTER COLUMN "repository" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "manifests" ADD COLUMN "stored_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "manifests" ADD COLUMN "address" text;--> statement-breakpoint
ALTER TABLE "manifests" ADD COLUMN "annotations" jsonb;--> statement-breakpoint
ALTER TABLE "manifests" ADD COLUMN "package_sha256" text;--> statement-breakpoint
ALTER TABLE "manifests" ADD COLUMN "package_size" bigint;--> statement-breakpoint
ALTER TABLE "manifests" ADD COLUMN "metadata_schema" text;--> statement-breakpoint
ALTER TABLE "manifests" ADD COLUMN "metadata" jsonb;--> statement-breakpoint
ALTER TABLE "repositories" ADD COLUMN "immutable_tags" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "events_type_idx" ON "events" USING btree ("type","seq");--> statement-breakpoint
CREATE INDEX "events_repository_idx" ON "events" USING btree (("payload"->>'repository'),"seq");--> statement-breakpoint
CREATE INDEX "manifests_address_idx" ON "manifests" USING btree ("repository","address");--> statement-breakpoint
CREATE INDEX "manifests_stored_idx" ON "manifests" USING btree ("repository","stored_seq");--> statement-breakpoint
CREATE INDEX "manifests_schema_idx" ON "manifests" USING btree ("repository","metadata_schema","stored_seq");--> statement-breakpoint
CREATE INDEX "manifests_metadata_idx" ON "manifests" USING gin ("metadata" jsonb_path_ops);--> statement-breakpoint
CREATE INDEX "manifests_annotations_idx" ON "manifests" USING gin ("annotations" jsonb_path_ops);--> statement-breakpoint
CREATE INDEX "repository_blobs_sha256_idx" ON "repository_blobs" USING btree ("sha256","repository");
--> statement-breakpoint
-- Variants are listed in byte order, like tags and repository names.
ALTER TABLE "metadata_schemas" ALTER COLUMN "variant" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
-- Manifests stored before this migration: their time and native address, exactly as replaying the
-- log derives them (the stored event's time; the blake3 of the bytes).
UPDATE "manifests" m SET "stored_at" = e."at" FROM "events" e WHERE e."seq" = m."stored_seq";--> statement-breakpoint
UPDATE "manifests" m SET "address" = 'blake3:' || b."blake3" FROM "blobs" b WHERE b."sha256" = m."sha256";
