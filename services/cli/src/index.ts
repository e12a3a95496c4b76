import { x } from "@tollgate/agent"; export const z = x;
