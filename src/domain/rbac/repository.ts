/** SQL for a workspace's RBAC switch (`workspaces.rbac_enabled`). */
import type { Knex } from "knex";

export const rbac = {
  async isActive(db: Knex, workspaceId: string): Promise<boolean> {
    const row = await db("workspaces").where({ id: workspaceId }).first("rbac_enabled");
    return !!row?.rbac_enabled;
  },

  async set(db: Knex, workspaceId: string, enabled: boolean): Promise<void> {
    await db("workspaces").where({ id: workspaceId }).update({ rbac_enabled: enabled });
  },
};
