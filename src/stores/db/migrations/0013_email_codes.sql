CREATE TABLE "email_codes" (
	"digest" text PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"purpose" text NOT NULL,
	"email" text NOT NULL,
	"password_fingerprint" text,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "email_codes_purpose_check" CHECK ("email_codes"."purpose" IN ('password_reset', 'email_verification', 'email_change')),
	CONSTRAINT "email_codes_fingerprint_check" CHECK (("email_codes"."purpose" = 'password_reset') = ("email_codes"."password_fingerprint" IS NOT NULL))
);
--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "email_key" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "email_verified_at" timestamp with time zone;--> statement-breakpoint
-- The key of every address already on file (src/email/email-address.ts: these were stored NFKC and trimmed). None is confirmed yet, so none can collide.
UPDATE "users" SET "email_key" = lower("email") WHERE "email" IS NOT NULL;--> statement-breakpoint
ALTER TABLE "email_codes" ADD CONSTRAINT "email_codes_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "email_codes_user_purpose_idx" ON "email_codes" USING btree ("user_id","purpose");--> statement-breakpoint
CREATE INDEX "email_codes_expires_at_idx" ON "email_codes" USING btree ("expires_at");--> statement-breakpoint
CREATE UNIQUE INDEX "users_verified_email_key_unique" ON "users" USING btree ("email_key") WHERE "users"."email_verified_at" IS NOT NULL;