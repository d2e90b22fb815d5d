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
 * body whose validation schema admits null (emptyBody) admits no body at
 * all, so the generated document marks it optional instead (swagger
 * `transformObject` option) and drops `nullable`: null is only how fastify
 * presents a missing body to the validator, and a literal JSON `null` is
 * refused (rejectJsonNull), so the document must not promise it.
 */
function markOptionalBodies({ openapiObject }) {
  for (const operations of Object.values(openapiObject.paths || {})) {
    for (const operation of Object.values(operations)) {
      const body = operation && operation.requestBody;
      const content = body && body.content && body.content['application/json'];
      if (content && content.schema && content.schema.nullable === true) {
        body.required = false;
        const { nullable, ...schema } = content.schema;
        content.schema = schema;
      }
    }
  }
  return openapiObject;
}

module.exports = { rejectJsonNull, acceptEmptyJson, markOptionalBodies };
