import { CreateItems1764244800000 } from './1764244800000-create-items';
import { CreateSlates1764248400000 } from './1764248400000-create-slates';
import { CreateLearning1764252000000 } from './1764252000000-create-learning';
import { JoinsInLearningLog1764259200000 } from './1764259200000-joins-in-learning-log';
import { CheckpointsKeepJournals1764345600000 } from './1764345600000-checkpoints-keep-journals';
import { ModelPages1764432000000 } from './1764432000000-model-pages';
import { ClicksLearnedAt1764518400000 } from './1764518400000-clicks-learned-at';
import { ImpressionOutbox1764604800000 } from './1764604800000-impression-outbox';

/**
 * Every migration, oldest first. Migrations are never edited once landed: add a new file and list it here.
 * (An explicit list rather than a glob, so the same code runs from ts sources in tests and from dist.)
 */
export const migrations = [
  CreateItems1764244800000,
  CreateSlates1764248400000,
  CreateLearning1764252000000,
  JoinsInLearningLog1764259200000,
  CheckpointsKeepJournals1764345600000,
  ModelPages1764432000000,
  ClicksLearnedAt1764518400000,
  ImpressionOutbox1764604800000,
];
