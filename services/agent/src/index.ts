import { x } from "@tollgate/log"; export const y = x;
