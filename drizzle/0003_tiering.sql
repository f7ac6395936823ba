-- Storage tiering (A7): each blob's retrieval tier and the state of a restore of its bytes, an index
-- for the restore tracker's work list, and indexes that tell whether a blob holds a manifest's or a
-- package's bytes (those are never tiered). Existing blobs are hot with no restore, as the log says.
ALTER TABLE "blobs" ADD COLUMN "retrieval_tier" text DEFAULT 'hot' NOT NULL;--> statement-breakpoint
ALTER TABLE "blobs" ADD COLUMN "restore_status" text DEFAULT 'none' NOT NULL;--> statement-breakpoint
ALTER TABLE "blobs" ADD COLUMN "restore_expires_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "blobs_restoring_idx" ON "blobs" USING btree ("sha256") WHERE "blobs"."restore_status" in ('in_progress', 'restored');--> statement-breakpoint
CREATE INDEX "manifests_sha256_idx" ON "manifests" USING btree ("sha256");--> statement-breakpoint
CREATE INDEX "manifests_package_sha256_idx" ON "manifests" USING btree ("package_sha256");