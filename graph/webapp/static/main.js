// The lender web app: each panel is a module of its own; this one puts them on the page.
import { mountAutoLend } from "./autolend.js";
import { mountLoans } from "./loans.js";
import { mountNotifications } from "./notifications.js";
import { mountPortfolio } from "./portfolio.js";
import { mountSession, restore } from "./session.js";

const message = document.getElementById("message");
let hideLater = null;

// One line at the top for what just happened, or what went wrong (kind "error").
function say(text, kind = "info") {
  message.textContent = text;
  message.className = `message ${kind}`;
  message.hidden = false;
  clearTimeout(hideLater);
  if (kind !== "error") hideLater = setTimeout(() => (message.hidden = true), 8000);
}

const panel = (id) => document.getElementById(id);
mountSession(panel("account"), panel("signin"), say);
mountPortfolio(panel("portfolio"), say);
mountAutoLend(panel("autolend"), say);
mountNotifications(panel("notifications"), panel("unread"), say);
restore(say);
mountLoans(panel("loans"), say);
