/** An item of the catalogue as the rest of reco sees it (never the TypeORM entity). */
export interface Item {
  id: string;
  group: string | null;
  attributes: Record<string, unknown>;
  active: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface ItemInput {
  id: string;
  group: string | null;
  attributes: Record<string, unknown>;
  active: boolean;
}
