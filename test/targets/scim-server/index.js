// The fixture SCIM 2.0 target server (see scim-server.js; `node main.js --help` to run it alone).
'use strict';
module.exports = require('./scim-server');
