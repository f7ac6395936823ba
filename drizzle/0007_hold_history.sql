-- A released hold stays in the view, with when and why it was released (GET /api/v1/holds/{id}).
ALTER TABLE "holds" ADD COLUMN "released_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "holds" ADD COLUMN "release_reason" text;