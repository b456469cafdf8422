// One contact's page (operators it belongs to, supervisors): details and live messages.
"use strict";
(() => {
  const { api, connect, renderMeta, renderMessage, showAlert } = Contact;
  const id = document.querySelector("[data-contact]").dataset.contact;
  const list = document.getElementById("messages");
  let contact = null;
  const load = async () => {
    contact = await api("GET", `/contacts/${id}`);
    renderMeta(document.getElementById("current-meta"), contact);
    for (const m of contact.messages) renderMessage(list, m);
  };
  const socket = connect((msg) => {
    if (msg.topic !== "contact:" + id) return;
    if (msg.data.message) renderMessage(list, msg.data.message);
    else if (msg.data.type === "keyword.alert" && contact) {
      showAlert(document.getElementById("current-meta"), list, contact, msg.data.keyword, msg.data.contact);
    }
  }, () => { load().then(() => socket.send({ op: "subscribe", topic: "contact:" + id })); });
})();
