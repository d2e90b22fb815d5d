'use strict';

const { validationError } = require('../errors');

/**
 * Support for action routes that take no input (schemas.emptyBody): POST
 * /v1/session/logout and POST /__fake/reset accept no body or `{}` and
 * answer anything else with 400 VALIDATION_FAILED.
 */

/**
 * preValidation hook: a literal JSON `null` passes the nullable schema
 * (fastify validates a missing body as null too), so it is refused here.
 * A missing body is `undefined` at this point and passes.
 */
async function rejectJsonNull(request) {
  if (request.body === null) throw validationError('body', 'body must be absent or an empty JSON object');
}

/**
 * Make a zero-length `application/json` body count as "no body" inside
 * `scope` (an encapsulated plugin holding only no-input routes). HTTP
 * clients that set a JSON content type on every request send exactly that
 * for a bodyless POST. Every non-empty body still goes through fastify's own
 * JSON parser, with its errors and prototype-poisoning protection.
 */
function acceptEmptyJson(scope) {
  const parseJson = scope.getDefaultJsonParser('error', 'error');
  scope.removeContentTypeParser('application/json');
  scope.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body.length === 0) {
      done(null, undefined);
      return;
    }
    parseJson(request, body, done);
  });
}

/**
 * @fastify/swagger marks every request body with a schema as required. A
 * body whose schema admits null admits no body at all, so mark it optional
 * in the generated document (swagger `transformObject` option).
 */
function markOptionalBodies({ openapiObject }) {
  for (const operations of Object.values(openapiObject.paths || {})) {
    for (const operation of Object.values(operations)) {
      const body = operation && operation.requestBody;
      const schema = body && body.content && body.content['application/json'] && body.content['application/json'].schema;
      if (schema && schema.nullable === true) body.required = false;
    }
  }
  return openapiObject;
}

module.exports = { rejectJsonNull, acceptEmptyJson, markOptionalBodies };
