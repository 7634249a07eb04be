import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/stores/db/schema.ts',
  out: './src/stores/db/migrations',
});
