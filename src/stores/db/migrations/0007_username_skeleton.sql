ALTER TABLE "users" ADD COLUMN "username_skeleton" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "username_upper_skeleton" text;--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_username_skeleton_unique" UNIQUE("username_skeleton");--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_username_upper_skeleton_unique" UNIQUE("username_upper_skeleton");