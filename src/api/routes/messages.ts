/**
 * Voice messages of extensions: list, metadata, the WAV itself, delete (each change updates the
 * phones' message-waiting indication), and recording one: an operator's phones ring and the
 * operator speaks the message (202 with the recording call's id; the outcome is a `message`
 * event and, when something was said, a new message).
 */
import { createReadStream } from 'node:fs';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Mailbox } from '../../messages/mailbox.js';
import type { RecordRequest, RecordStart } from '../../messages/operator-recording.js';
import type { Message } from '../../messages/store.js';
import { requireRole } from '../auth.js';
import { ApiError, notFound } from '../errors.js';

export interface MessagesDeps {
  mailbox: Mailbox;
  isExtension(number: string): boolean;
  /** Rings the operator to record; who may name which operator is checked here first. */
  record(extension: string, r: RecordRequest): Promise<RecordStart>;
  operatorIdOf(username: string): number | undefined;
}

const err = { $ref: 'Error#' };

const messageSchema = {
  $id: 'VoiceMessage',
  type: 'object',
  properties: {
    id: { type: 'integer' },
    extension: { type: 'string' },
    fromNumber: { type: 'string' },
    fromName: { type: 'string' },
    callId: { type: ['string', 'null'], format: 'uuid', description: 'the call that recorded it' },
    createdAt: { type: 'string', format: 'date-time' },
    durationS: { type: 'integer' },
    sizeBytes: { type: 'integer' },
    state: { type: 'string', enum: ['new', 'saved'], description: 'new: not heard yet' },
  },
};

const extensionParams = { type: 'object', required: ['number'], properties: { number: { type: 'string', pattern: '^[0-9]{1,32}$' } } };
const messageParams = {
  type: 'object',
  required: ['number', 'id'],
  properties: { number: { type: 'string', pattern: '^[0-9]{1,32}$' }, id: { type: 'integer', minimum: 1 } },
};

function present(m: Message): Record<string, unknown> {
  return {
    id: m.id,
    extension: m.extension,
    fromNumber: m.fromNumber,
    fromName: m.fromName,
    callId: m.callId,
    createdAt: m.createdAt.toISOString(),
    durationS: m.durationS,
    sizeBytes: m.sizeBytes,
    state: m.state,
  };
}

export function registerMessageRoutes(app: FastifyInstance, d: MessagesDeps): void {
  app.addSchema(messageSchema);
  const readers = requireRole('admin', 'supervisor');
  const recorders = requireRole('admin', 'supervisor', 'operator');
  const extensionOf = (number: string): string => {
    if (!d.isExtension(number)) throw notFound('extension');
    return number;
  };
  const messageOf = async (number: string, id: number): Promise<Message> => {
    const m = await d.mailbox.get(extensionOf(number), id);
    if (!m) throw notFound('message');
    return m;
  };

  app.get<{ Params: { number: string } }>('/v1/extensions/:number/messages', {
    preHandler: readers,
    schema: {
      tags: ['messages'],
      summary: 'The voice messages of an extension, oldest first',
      params: extensionParams,
      response: { 200: { type: 'object', properties: { items: { type: 'array', items: { $ref: 'VoiceMessage#' } } } }, 404: err },
    },
  }, async (req) => ({ items: (await d.mailbox.list(extensionOf(req.params.number))).map(present) }));

  app.get<{ Params: { number: string; id: number } }>('/v1/extensions/:number/messages/:id', {
    preHandler: readers,
    schema: { tags: ['messages'], summary: 'One voice message', params: messageParams, response: { 200: { $ref: 'VoiceMessage#' }, 404: err } },
  }, async (req) => present(await messageOf(req.params.number, req.params.id)));

  app.get<{ Params: { number: string; id: number } }>('/v1/extensions/:number/messages/:id/audio', {
    preHandler: readers,
    schema: {
      tags: ['messages'],
      summary: 'The recording (audio/wav)',
      params: messageParams,
      response: { 200: { type: 'string', format: 'binary', description: 'WAV' }, 404: err },
    },
  }, async (req, res) => {
    const m = await messageOf(req.params.number, req.params.id);
    const size = await d.mailbox.files.size(m.path);
    if (size === undefined) throw new ApiError(404, 'not_found', 'the message\'s file is missing from MESSAGES_DIR');
    return res
      .type('audio/wav')
      .header('Content-Length', String(size))
      .header('Content-Disposition', `attachment; filename="message-${m.extension}-${m.id}.wav"`)
      .send(createReadStream(d.mailbox.files.absolute(m.path)));
  });

  app.delete<{ Params: { number: string; id: number } }>('/v1/extensions/:number/messages/:id', {
    preHandler: readers,
    schema: { tags: ['messages'], summary: 'Delete a voice message (file and record); the phones\' indication follows', params: messageParams, response: { 204: { type: 'null' }, 404: err } },
  }, async (req, res) => {
    if (!(await d.mailbox.remove(extensionOf(req.params.number), req.params.id))) throw notFound('message');
    return res.code(204).send();
  });

  app.post<{ Params: { number: string }; Body: RecordRequest }>('/v1/extensions/:number/messages/record', {
    preHandler: recorders,
    schema: {
      tags: ['messages'],
      summary: 'Record a message: ring an operator\'s phones; on the answer they hear the prompt and a tone and speak (# ends it)',
      description: 'Answers 202 once the phones ring. An operator key may only name its own operator.',
      params: extensionParams,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['operatorId'],
        properties: {
          operatorId: { type: 'integer', minimum: 1 },
          fromNumber: { type: 'string', maxLength: 64, description: 'who the message is from (default: the operator\'s work number)' },
          fromName: { type: 'string', maxLength: 100, description: 'default: the operator\'s display name' },
        },
      },
      response: { 202: { type: 'object', properties: { callId: { type: 'string', format: 'uuid' } } }, 400: err, 403: err, 404: err, 409: err, 503: err },
    },
  }, async (req: FastifyRequest<{ Params: { number: string }; Body: RecordRequest }>, res) => {
    const extension = extensionOf(req.params.number);
    const own = req.principal?.operator;
    if (req.role === 'operator' && (own === undefined || d.operatorIdOf(own) !== req.body.operatorId)) {
      throw new ApiError(403, 'forbidden', 'an operator key may only record as its own operator');
    }
    const started = await d.record(extension, req.body);
    if (!started.ok) throw new ApiError(started.status, started.status === 404 ? 'not_found' : started.status === 409 ? 'conflict' : 'unavailable', started.message, started.field);
    return res.code(202).send({ callId: started.callId });
  });
}
