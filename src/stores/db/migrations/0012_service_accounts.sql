ALTER TABLE "users" ALTER COLUMN "password_hash" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "kind" text DEFAULT 'person' NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_kind_password_check" CHECK (("users"."kind" = 'person' AND "users"."password_hash" IS NOT NULL) OR ("users"."kind" = 'service' AND "users"."password_hash" IS NULL));