-- Manifest bytes are kept once, in the content store: annotations are no longer copied into rows.
ALTER TABLE "manifests" DROP COLUMN "annotations";--> statement-breakpoint
-- Tags and repository names are listed in byte order: declare the columns so, and their primary-key
-- indexes serve ORDER BY ... LIMIT pages without a sort.
ALTER TABLE "tags" ALTER COLUMN "tag" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "repositories" ALTER COLUMN "name" SET DATA TYPE text COLLATE "C";
