CREATE TABLE "blobs" (
	"sha256" text PRIMARY KEY NOT NULL,
	"blake3" text NOT NULL,
	"sha512" text,
	"size" bigint NOT NULL,
	"created_seq" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "event_head" (
	"id" integer PRIMARY KEY NOT NULL,
	"seq" bigint NOT NULL,
	"hash" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "events" (
	"seq" bigint PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"payload" jsonb NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"hash" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "manifests" (
	"repository" text NOT NULL,
	"digest" text NOT NULL,
	"media_type" text NOT NULL,
	"size" bigint NOT NULL,
	"sha256" text NOT NULL,
	"artifact_type" text,
	"subject" text,
	"annotations" jsonb,
	"stored_seq" bigint NOT NULL,
	CONSTRAINT "manifests_repository_digest_pk" PRIMARY KEY("repository","digest")
);
--> statement-breakpoint
CREATE TABLE "repositories" (
	"name" text PRIMARY KEY NOT NULL,
	"created_seq" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "repository_blobs" (
	"repository" text NOT NULL,
	"sha256" text NOT NULL,
	"linked_seq" bigint NOT NULL,
	CONSTRAINT "repository_blobs_repository_sha256_pk" PRIMARY KEY("repository","sha256")
);
--> statement-breakpoint
CREATE TABLE "tags" (
	"repository" text NOT NULL,
	"tag" text NOT NULL,
	"digest" text NOT NULL,
	"set_seq" bigint NOT NULL,
	CONSTRAINT "tags_repository_tag_pk" PRIMARY KEY("repository","tag")
);
--> statement-breakpoint
CREATE TABLE "uploads" (
	"id" text PRIMARY KEY NOT NULL,
	"repository" text NOT NULL,
	"started_seq" bigint NOT NULL,
	"started_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "blobs_blake3_idx" ON "blobs" USING btree ("blake3");--> statement-breakpoint
CREATE INDEX "blobs_sha512_idx" ON "blobs" USING btree ("sha512");--> statement-breakpoint
CREATE INDEX "manifests_subject_idx" ON "manifests" USING btree ("repository","subject");--> statement-breakpoint
CREATE INDEX "tags_digest_idx" ON "tags" USING btree ("repository","digest");