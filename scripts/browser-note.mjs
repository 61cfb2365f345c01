// The last lines of `npm test`: say plainly when the browser tests did not run, and how to run them.
import fs from "node:fs";

const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
if (!fs.existsSync(chromium)) {
  console.log(`\nNOTE: the browser tests (test/e2e) did NOT run: no Chromium at ${chromium}.`);
  console.log("      Install Debian's Chromium (apt-get install -y chromium) or set CHROMIUM_PATH, then run npm test again.");
}
