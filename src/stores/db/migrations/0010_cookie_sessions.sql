ALTER TABLE "sessions" ADD COLUMN "kind" text DEFAULT 'refresh' NOT NULL;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "cookie_secret_digest" text;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "token_version" integer;--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_kind_check" CHECK ("sessions"."kind" IN ('refresh', 'cookie'));--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_cookie_fields_check" CHECK (("sessions"."kind" = 'cookie' AND "sessions"."cookie_secret_digest" IS NOT NULL AND "sessions"."token_version" IS NOT NULL) OR ("sessions"."kind" = 'refresh' AND "sessions"."cookie_secret_digest" IS NULL AND "sessions"."token_version" IS NULL));