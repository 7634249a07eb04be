CREATE TABLE "deleted_users" (
	"id" uuid PRIMARY KEY NOT NULL,
	"token_version" integer NOT NULL,
	"deleted_at" timestamp with time zone NOT NULL
);
