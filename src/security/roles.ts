import type { IAddressSpace, NodeId } from "node-opcua";
import { makeRoles, PermissionType, WellKnownRoles } from "../shared/node-opcua.js";

import { ROLES, type RoleName } from "./role-names.js";

const OBSERVE =
  PermissionType.Browse |
  PermissionType.ReadRolePermissions |
  PermissionType.Read |
  PermissionType.ReadHistory |
  PermissionType.ReceiveEvents;
/** Observer reads (values and their history) and browses; Operator also calls commands; Engineer also writes configuration. */
const PERMISSIONS: Record<RoleName, number> = {
  Observer: OBSERVE,
  Operator: OBSERVE | PermissionType.Call,
  Engineer: OBSERVE | PermissionType.Call | PermissionType.Write,
};

/** The well-known role NodeIds a user with `roles` holds: AuthenticatedUser and each role named. */
export function roleNodeIds(roles: readonly RoleName[]): NodeId[] {
  return makeRoles([WellKnownRoles.AuthenticatedUser, ...roles.map((r) => WellKnownRoles[r])]);
}

/** The role names among a session's role NodeIds (the anonymous role counts as Observer where allowed). */
export function roleNamesOf(roleIds: readonly NodeId[], anonymousIsObserver: boolean): RoleName[] {
  const names: RoleName[] = [];
  for (const id of roleIds) {
    if (id.namespace !== 0) continue;
    const name = ROLES.find((r) => WellKnownRoles[r] === id.value);
    if (name) names.push(name);
    else if (id.value === WellKnownRoles.Anonymous && anonymousIsObserver) names.push("Observer");
  }
  return names;
}

/**
 * States every namespace's default permissions per role. The server runs with
 * unresolvedPermissionPolicy "deny": a session whose role is not listed here gets nothing.
 * node-opcua adds the Anonymous role to every session's evaluation, so Anonymous is granted
 * Observer rights only when anonymous access is on, and nothing otherwise.
 */
export function applyDefaultRolePermissions(addressSpace: IAddressSpace, anonymousIsObserver: boolean): void {
  const rolePermissions = [
    { roleId: WellKnownRoles.Anonymous, permissions: anonymousIsObserver ? OBSERVE : PermissionType.None },
    { roleId: WellKnownRoles.AuthenticatedUser, permissions: PermissionType.Browse },
    ...ROLES.map((r) => ({ roleId: WellKnownRoles[r], permissions: PERMISSIONS[r] })),
  ].map((p) => ({ roleId: makeRoles([p.roleId])[0]!, permissions: p.permissions }));
  for (const ns of addressSpace.getNamespaceArray()) ns.setDefaultRolePermissions(rolePermissions);
  grantServerEventHistory(addressSpace, anonymousIsObserver);
}

/**
 * The Server object carries role permissions of its own (node-opcua's: Browse, ReceiveEvents and
 * Call for every session, the rest for the admin roles), which the defaults above do not reach:
 * whoever observes may also read its event history (Part 11 5.3, README History: event history).
 */
function grantServerEventHistory(addressSpace: IAddressSpace, anonymousIsObserver: boolean): void {
  const server = addressSpace.rootFolder.objects.server;
  const own = server.rolePermissions ?? [];
  const observers = [
    ...ROLES.map((r) => WellKnownRoles[r]),
    ...(anonymousIsObserver ? [WellKnownRoles.Anonymous] : []),
  ];
  const granted = makeRoles(observers);
  const kept = own
    .filter((p) => !granted.some((g) => g.toString() === p.roleId.toString()))
    .map((p) => ({ roleId: p.roleId, permissions: p.permissions }));
  const previous = (id: NodeId) => own.find((p) => p.roleId.toString() === id.toString())?.permissions ?? 0;
  server.setRolePermissions([
    ...kept,
    ...granted.map((roleId) => ({ roleId, permissions: previous(roleId) | OBSERVE })),
  ]);
}
