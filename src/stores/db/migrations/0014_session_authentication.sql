-- Sessions from before: a password sign-in at their creation is what they were.
ALTER TABLE "sessions" ADD COLUMN "auth_methods" text[];--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "auth_time" timestamp with time zone;--> statement-breakpoint
UPDATE "sessions" SET "auth_methods" = '{pwd}', "auth_time" = "created_at";--> statement-breakpoint
ALTER TABLE "sessions" ALTER COLUMN "auth_methods" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "sessions" ALTER COLUMN "auth_time" SET NOT NULL;
