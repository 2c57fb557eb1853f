// The lender's notifications (saved-search alerts, what auto-lending did) and the unread count in the
// header, kept live by `myEvents`: a new notification adds one, a NotificationsRead event (from this page
// or another client of the same lender) sets the count the server gives. Credit that arrives (a
// repayment, a refund) refreshes the balance, and with it the portfolio.
import { explain, failed } from "./errors.js";
import { date, h, replace, words } from "./elements.js";
import { request, socketReady, subscribe } from "./graphql.js";
import { onLender, refresh } from "./session.js";

const NOTIFICATION = "id kind message createdAt readAt loan { name }";
const NOTIFICATIONS = `query Notifications {
  me {
    unread: notifications(unreadOnly: true, first: 1) { totalCount }
    notifications(first: 20) { edges { node { ${NOTIFICATION} } } }
  }
}`;
const EVENTS = `subscription Events($after: String) {
  myEvents(after: $after) {
    __typename
    eventId
    ... on NotificationCreated { notification { ${NOTIFICATION} } }
    ... on NotificationsRead { unreadCount notificationIds }
  }
}`;
const MARK_ALL = `mutation MarkAllRead {
  markNotificationsRead(input: { all: true }) {
    __typename
    ... on MarkNotificationsReadSuccess { marked unreadCount }
    ... on UserError { code message }
  }
}`;
const CREDIT_EVENTS = new Set(["RepaymentCredited", "LoanExpired"]);

function item(notification) {
  return h(
    "li",
    { class: notification.readAt ? "read" : "unread", dataset: { id: notification.id } },
    h("span", { class: "kind" }, words(notification.kind)),
    " ",
    notification.message,
    h("time", { datetime: notification.createdAt }, ` ${date(notification.createdAt)}`),
  );
}

export function mountNotifications(panel, badge, say) {
  let stop = () => {};
  const list = h("ul", { class: "notifications" });

  function setUnread(count) {
    badge.textContent = String(count);
    badge.hidden = count === 0;
    badge.dataset.count = String(count);
  }

  async function markAll() {
    try {
      const { markNotificationsRead: answer } = await request(MARK_ALL);
      if (failed(answer)) return say(explain(answer), "error");
      setUnread(answer.unreadCount);
      for (const node of list.children) node.className = "read";
    } catch (error) {
      say(explain(error), "error");
    }
  }

  let generation = 0;

  onLender(async (lender) => {
    const mine = ++generation;
    stop();
    stop = () => {};
    panel.dataset.live = "";
    const title = h("h2", {}, "Notifications");
    if (!lender) {
      setUnread(0);
      return replace(panel, title, h("p", { class: "muted" }, "Sign in to see your notifications."));
    }
    replace(panel, title, h("button", { type: "button", onclick: markAll }, "Mark all read"), list);
    stop = subscribe(EVENTS, {}, {
      signedIn: true,
      onEvent: ({ myEvents: event }) => {
        if (event.__typename === "NotificationCreated") {
          list.querySelector("li.muted")?.remove();
          list.prepend(item(event.notification));
          setUnread(Number(badge.dataset.count ?? 0) + 1);
        } else if (event.__typename === "NotificationsRead") {
          setUnread(event.unreadCount);
          // No ids: all of them were marked.
          const ids = event.notificationIds ? new Set(event.notificationIds) : null;
          for (const node of list.querySelectorAll("li.unread")) {
            if (!ids || ids.has(node.dataset.id)) node.className = "read";
          }
        } else if (CREDIT_EVENTS.has(event.__typename)) {
          refresh().catch((error) => say(explain(error), "error"));
        }
      },
      onError: (error) => say(explain(error), "error"),
    });
    socketReady({ signedIn: true }).then((ready) => {
      if (ready && mine === generation) panel.dataset.live = "on";
    });
    try {
      const { me } = await request(NOTIFICATIONS);
      setUnread(me.unread.totalCount);
      replace(list, me.notifications.edges.map(({ node }) => item(node)));
      if (!me.notifications.edges.length) list.append(h("li", { class: "muted" }, "No notifications yet."));
    } catch (error) {
      say(explain(error), "error");
    }
  });
}
