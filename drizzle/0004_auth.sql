-- Authentication (issue 8): API tokens, a view of their events (only the SHA-256 of each secret),
-- and the identity that opened each upload session (only it may continue the session).
CREATE TABLE "api_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"secret_sha256" text NOT NULL,
	"name" text NOT NULL,
	"owner" text NOT NULL,
	"scopes" jsonb NOT NULL,
	"admin" jsonb NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_seq" bigint NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_tokens_secret_sha256_unique" UNIQUE("secret_sha256")
);
--> statement-breakpoint
ALTER TABLE "uploads" ADD COLUMN "owner" text;--> statement-breakpoint
CREATE INDEX "uploads_owner_idx" ON "uploads" USING btree ("owner");