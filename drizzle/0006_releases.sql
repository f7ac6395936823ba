-- Releases (issue 9): applications with their current release, and releases (an image pinned by
-- digest and a platform manifest addressed by its BLAKE3), views of the release.* events.
CREATE TABLE "apps" (
	"name" text PRIMARY KEY NOT NULL,
	"current" integer,
	"created_seq" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "releases" (
	"app" text NOT NULL,
	"number" integer NOT NULL,
	"repository" text NOT NULL,
	"digest" text NOT NULL,
	"platform_address" text NOT NULL,
	"platform_sha256" text NOT NULL,
	"platform_size" integer NOT NULL,
	"platform_schema" text NOT NULL,
	"metadata" jsonb,
	"created_seq" bigint NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "releases_app_number_pk" PRIMARY KEY("app","number")
);
--> statement-breakpoint
CREATE INDEX "releases_image_idx" ON "releases" USING btree ("repository","digest");