import { CreateItems1764244800000 } from './1764244800000-create-items';

/**
 * Every migration, oldest first. Migrations are never edited once landed: add a new file and list it here.
 * (An explicit list rather than a glob, so the same code runs from ts sources in tests and from dist.)
 */
export const migrations = [CreateItems1764244800000];
