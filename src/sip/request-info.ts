import Srf from 'drachtio-srf';

export interface Party {
  number: string;
  name: string;
}

function userOf(uri: string | undefined): string {
  if (!uri) return '';
  try {
    const parsed = Srf.parseUri(uri);
    if (!parsed) return '';
    // tel: URIs carry the number where sip: URIs carry the user.
    return parsed.user ?? (parsed.scheme === 'tel' ? uri.replace(/^tel:/, '').split(';')[0] ?? '' : '');
  } catch {
    return '';
  }
}

/** Who is calling: the From header's user and display name. */
export function callerOf(req: Srf.SrfRequest): Party {
  try {
    const from = req.getParsedHeader('From');
    return { number: userOf(from.uri) || 'anonymous', name: (from.name ?? '').replace(/^"|"$/g, '') };
  } catch {
    return { number: 'anonymous', name: '' };
  }
}

/** What was dialled: the Request-URI's user part (the To header may name a forwarding party). */
export function dialledOf(req: Srf.SrfRequest): string {
  return userOf(req.uri);
}
