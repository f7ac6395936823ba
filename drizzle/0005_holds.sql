-- Legal holds (issue 9): the holds in force, a view of the hold.placed / hold.released events.
CREATE TABLE "holds" (
	"id" text PRIMARY KEY NOT NULL,
	"repository" text NOT NULL,
	"digest" text,
	"tag" text,
	"reason" text NOT NULL,
	"placed_seq" bigint NOT NULL,
	"placed_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "holds_repository_idx" ON "holds" USING btree ("repository");