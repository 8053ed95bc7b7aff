/**
 * The API commands this stand-in answers, under the names FreeSWITCH registers them with
 * SWITCH_ADD_API. Any other name gets api_exec()'s "-ERR <name> Command not found!".
 */
import type { ApiHandler } from '../core/switch.js';
import {
  hupall,
  uuidBreak,
  uuidBridge,
  uuidBroadcast,
  uuidDump,
  uuidExists,
  uuidGetvar,
  uuidKill,
  uuidRecvDtmf,
  uuidSetMediaStats,
  uuidSetvar,
  uuidTransfer,
} from './channel-commands.js';
import { conferenceApi } from './conference-api.js';
import { fsctl, sofia, status, version } from './system-commands.js';

export function defaultApis(): Map<string, ApiHandler> {
  return new Map<string, ApiHandler>([
    ['status', status],
    ['version', version],
    ['sofia', sofia],
    ['fsctl', fsctl],
    ['hupall', hupall],
    ['break', uuidBreak],
    ['uuid_break', uuidBreak],
    ['uuid_bridge', uuidBridge],
    ['uuid_transfer', uuidTransfer],
    ['uuid_broadcast', uuidBroadcast],
    ['uuid_kill', uuidKill],
    ['uuid_exists', uuidExists],
    ['uuid_getvar', uuidGetvar],
    ['uuid_setvar', uuidSetvar],
    ['uuid_dump', uuidDump],
    ['uuid_set_media_stats', uuidSetMediaStats],
    ['uuid_recv_dtmf', uuidRecvDtmf],
    ['conference', conferenceApi],
  ]);
}
